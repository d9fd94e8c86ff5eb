/** The cashier window's web preferences: the renderer gets no Node, only the preload's TillApi. [SIG] */
export const CASHIER_WEB_PREFERENCES = {
  contextIsolation: true,
  nodeIntegration: false,
  sandbox: true,
  webSecurity: true,
  allowRunningInsecureContent: false,
  spellcheck: false,
} as const;

export const CASHIER_WINDOW = {
  width: 1440,
  height: 900,
  minWidth: 1024,
  minHeight: 700,
  backgroundColor: '#f4f5f7',
  title: 'bluetill till',
} as const;
