import type { Entity } from '@vigil/schemas'
import { DEVICE_TYPE_UNKNOWN, OBSERVABLE_TYPE, type Actor, type Device, type NetworkEndpoint, type Observable, type ResourceDetails } from './ocsf-objects.ts'

/** Where an alert's entity goes in a finding. */
export interface EntityAttributes {
  /** added to every evidence: each evidence line is the entity's */
  evidence: { src_endpoint?: NetworkEndpoint; actor?: Actor; device?: Device }
  actor?: Actor
  device?: Device
  resources?: ResourceDetails[]
  observable: Observable
  /** OCSF profiles the attributes belong to (actor and device are the host profile's) */
  profiles: string[]
}

/**
 * The entity by its kind (the ECS field it was taken from). Detection Finding has no src_endpoint
 * of its own (none up to OCSF 1.5), so a source address or name is each evidence's src_endpoint; a user is the
 * actor, a host the device. A kind Vigil does not know is a resource.
 */
export function entityAttributes(entity: Entity): EntityAttributes {
  const value = entity.id
  if (entity.kind === 'source.ip') {
    return {
      evidence: { src_endpoint: { ip: value } },
      observable: { name: 'evidences.src_endpoint.ip', ...OBSERVABLE_TYPE.ip, value },
      profiles: [],
    }
  }
  if (entity.kind === 'source.domain') {
    return {
      evidence: { src_endpoint: { hostname: value } },
      observable: { name: 'evidences.src_endpoint.hostname', ...OBSERVABLE_TYPE.hostname, value },
      profiles: [],
    }
  }
  if (entity.kind === 'user.name' || entity.kind.endsWith('.user.name')) {
    const actor = { user: { name: value } }
    return { evidence: { actor }, actor, observable: { name: 'actor.user.name', ...OBSERVABLE_TYPE.userName, value }, profiles: ['host'] }
  }
  if (entity.kind === 'host.name') {
    const device = { hostname: value, ...DEVICE_TYPE_UNKNOWN }
    return { evidence: { device }, device, observable: { name: 'device.hostname', ...OBSERVABLE_TYPE.hostname, value }, profiles: ['host'] }
  }
  return {
    evidence: {},
    resources: [{ uid: value, name: value, type: entity.kind }],
    observable: { name: 'resources.uid', ...OBSERVABLE_TYPE.resourceUid, value },
    profiles: [],
  }
}
