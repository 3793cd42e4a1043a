import { buildApp } from './api/app';
import { createServices } from './api/services-factory';

export { PeerObject } from './objects/peer-object';
export { SchedulerObject } from './objects/scheduler-object';

export default buildApp(createServices);
