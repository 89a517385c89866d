/**
 * Test helpers of the bus lib for other projects' real-broker suites (`@agent-mesh/bus/testing`).
 * Start at pulsar-environment.ts; the drivers' conformance suite (bus-conformance.ts) is used inside the bus lib only.
 */
export { describeWithPulsar, assertPulsarAnswers } from './pulsar-environment';
