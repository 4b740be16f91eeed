/**
 * FTP reply codes named by meaning (RFC 959 4.2.1, RFC 2228, RFC 2428, RFC 3659, RFC 4217). A reply is
 * `reply(Code.fileUnavailable, 'No such file or directory.')`, not `reply(550, ...)`.
 */
export const Code = {
  openingData: 150,
  ok: 200,
  superfluous: 202,
  systemStatus: 211,
  directoryStatus: 212,
  fileStatus: 213,
  help: 214,
  systemType: 215,
  dataOpenNoTransfer: 225,
  closingData: 226,
  enteringPassive: 227,
  enteringExtendedPassive: 229,
  serviceReady: 220,
  closingControl: 221,
  loggedIn: 230,
  /** RFC 4217 section 12.2: logged in by the TLS client certificate, no password needed. */
  loggedInByCertificate: 232,
  securityExchangeDone: 234,
  fileActionOk: 250,
  pathCreated: 257,
  needPassword: 331,
  needAccount: 332,
  pendingFurtherInfo: 350,
  serviceUnavailable: 421,
  cannotOpenData: 425,
  transferAborted: 426,
  securityResourceUnavailable: 431,
  fileBusy: 450,
  localError: 451,
  insufficientStorage: 452,
  syntaxError: 500,
  badArguments: 501,
  notImplemented: 502,
  badSequence: 503,
  badParameter: 504,
  dataProtectionRequired: 521,
  protectionNotSupported: 522,
  notLoggedIn: 530,
  needAccountToStore: 532,
  policyDenied: 533,
  protectionLevelDenied: 534,
  protectionLevelNotSupported: 536,
  fileUnavailable: 550,
  pageTypeUnknown: 551,
  quotaExceeded: 552,
  nameNotAllowed: 553,
  badRestartPosition: 554,
} as const;

/** One of the named reply codes. */
export type ReplyCode = (typeof Code)[keyof typeof Code];

/** The text of the 530 a command that needs a login gets without one (the dispatcher, STAT with a path). */
export const NOT_LOGGED_IN = 'Please login with USER and PASS.';
