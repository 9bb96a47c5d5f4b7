export * from './namespaces.js';
export * from './names.js';
export * from './lessons.js';
export * from './protocol.js';
export * from './lesson-format.js';
export * from './client.js';
export * from './workshop.js';
