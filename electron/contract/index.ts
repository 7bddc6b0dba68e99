export * from './api';
export * from './domain';
export * from './result';
