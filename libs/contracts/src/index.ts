export * from './envelope';
export * from './events';
export * from './registry';
export * from './topics';
export * from './uuid';
export * from './validation';
