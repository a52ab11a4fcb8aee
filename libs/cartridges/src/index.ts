export * from './manifest.schema';
export * from './manifest';
export * from './validation';
export * from './jobs';
export * from './gear-sizes';
export * from './routes';
export * from './settings';
export * from './descriptor';
