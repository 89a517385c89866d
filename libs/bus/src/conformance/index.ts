export { describeBusConformance, type ConformanceTarget } from './bus-conformance';
export { Inbox, publishTexts, readOrFail, sleep, text, waitFor, type Delivery, type Handling } from './helpers';
export * from './pulsar-environment';
