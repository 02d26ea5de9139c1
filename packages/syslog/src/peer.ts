/**
 * The host part of a sender address as the ingestor records it (`host:port`, IPv6 without
 * brackets), or the whole value when it carries no port.
 */
export function hostOfPeer(peer: string): string {
  const i = peer.lastIndexOf(':')
  return i > 0 && /^\d+$/.test(peer.slice(i + 1)) ? peer.slice(0, i) : peer
}
