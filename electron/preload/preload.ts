/**
 * Preload (sandboxed, context-isolated): exposes exactly the contract as
 * `window.fovea` through contextBridge. Bundled to one CommonJS file because
 * a sandboxed preload can only require 'electron'.
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { createPreloadApi } from './preload-api';

contextBridge.exposeInMainWorld('fovea', createPreloadApi(ipcRenderer, (file) => webUtils.getPathForFile(file)));
