/**
 * The kinds of entity whose windows the featurizer keeps (its entityOf), each named by the ECS field
 * its id is: the client's address; else the client's host name, where the line names it only so;
 * else (and for a host's own addresses and names) the host that logged the line. A correlation grouped by one of these fields alone is about
 * that entity (the alerter's Sigma rules).
 */
export const ENTITY_KINDS = ['source.ip', 'source.domain', 'host.name'] as const
export type EntityKind = (typeof ENTITY_KINDS)[number]
