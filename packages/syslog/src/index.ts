export * from './decode-line.ts'
export * from './parse-syslog.ts'
export * from './tcp-deframer.ts'
export * from './peer.ts'
