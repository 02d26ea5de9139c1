import { createTransport } from 'nodemailer'
import { emailMessage } from './render-alert.ts'
import { SinkError, type Sink } from './sink.ts'

export interface EmailSinkOptions {
  /** smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…:465; query options such as requireTLS=true or tls.rejectUnauthorized=false go to nodemailer */
  smtpUrl: string
  from: string
  to: string[]
  timeoutMs: number
}

/** Mails each alert through SMTP, as plain text with an HTML alternative. */
export function createEmailSink(options: EmailSinkOptions): Sink {
  const transport = createTransport({
    url: options.smtpUrl,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
  })
  return {
    name: 'email',
    async deliver({ alertId, alert, eventCount }) {
      const message = emailMessage(alert, eventCount)
      try {
        await transport.sendMail({
          from: options.from,
          to: options.to,
          ...message,
          // The same Message-ID on every attempt of one alert, so a mail system can drop the copy a
          // retry after a timeout may send (the server may have accepted the first before we gave up).
          messageId: `<alert-${alertId}@vigil.alerter>`,
          signal: AbortSignal.timeout(options.timeoutMs),
        })
      } catch (err) {
        throw smtpFailure(err, options.timeoutMs)
      }
    },
    async close() {
      transport.close()
    },
  }
}

/** nodemailer's error as a SinkError: a 5xx reply refuses the message for good, a 4xx reply or a lost connection may pass later. */
function smtpFailure(err: unknown, timeoutMs: number): SinkError {
  const e = err as { code?: string; responseCode?: number; permanent?: boolean; response?: string; message?: string }
  const reason = e.responseCode ? `SMTP ${e.response ?? e.responseCode}` : `${e.code ?? 'SMTP'}: ${e.message ?? String(err)}`
  if (e.code === 'EABORT' || e.code === 'ETIMEDOUT') return new SinkError('SINK_TIMEOUT', `no answer within ${timeoutMs} ms (${reason})`, true, undefined, { cause: err })
  if (e.responseCode) {
    return e.permanent ? new SinkError('SINK_REJECTED', reason, false, undefined, { cause: err }) : new SinkError('SINK_UNAVAILABLE', reason, true, undefined, { cause: err })
  }
  if (e.code === 'ECONFIG' || e.code === 'EENVELOPE' || e.code === 'EMAXRECIPIENTS') return new SinkError('SINK_BROKEN', reason, false, undefined, { cause: err })
  return new SinkError('SINK_UNREACHABLE', reason, true, undefined, { cause: err })
}
