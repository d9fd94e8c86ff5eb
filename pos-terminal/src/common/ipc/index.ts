export * from './channels';
export * from './view-models';
export * from './till-api';
export * from './wire';
