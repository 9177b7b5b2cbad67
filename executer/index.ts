export { Executer, type ExecuterDeps } from './executer.js';
