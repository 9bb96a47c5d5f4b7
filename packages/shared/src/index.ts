export * from './namespaces.js';
export * from './lessons.js';
export * from './protocol.js';
