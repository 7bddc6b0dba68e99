export * from './api';
export * from './domain';
export * from './result';
export * from './export-formats';
export * from './deid-options';
export * from './unsafe-chars';
export * from './policy-keys';
export * from './runs';
