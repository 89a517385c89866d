export { PulsarNativeEventBus, type PulsarNativeOptions } from './pulsar-native-bus';
export { loadPulsarClient, type PulsarClientLoadResult, type PulsarClientModule } from './load';
