// class-validator and class-transformer decorators need the Reflect metadata API.
import 'reflect-metadata';
export { describeError } from './describe-error';
export * from './envelope';
export { randomHex } from './entropy';
export * from './events';
export * from './fan-out-policy';
export * from './registry';
export * from './topics';
export * from './uuid';
export * from './validation';
export * from './workflow-spec';
export * from './step-tree';
