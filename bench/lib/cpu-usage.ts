import { existsSync, readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '@vigil/testkit'

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on every Linux architecture we run). */
const TICKS_PER_SECOND = 100

/** CPU times at one moment: per named group of processes, and the whole machine. */
export interface CpuSnapshot {
  at: number
  /** ticks used so far, per group */
  groups: Map<string, number>
  /** ticks per process, for the busiest single process of a group */
  processes: Map<number, number>
  machine: { busy: number; steal: number; total: number }
}

/** What each group used between two snapshots, in % of one core; the machine in % of all its cores. */
export interface CpuUsage {
  /** % of one core, per group */
  groups: Record<string, number>
  /** % of one core of the busiest process of each group */
  busiest: Record<string, number>
  /** % of all cores that were busy, whoever used them (the hypervisor's steal included) */
  machine: number
  /** % of all cores' time the hypervisor gave to other guests (steal): the machine is shared */
  steal: number
  cores: number
}

/** The stack's broker and Redis processes, from the native stack's pid files (absent when the stack runs elsewhere). */
export function stackPids(): { broker: number | null; redis: number | null } {
  const read = (file: string) => {
    const path = join(REPO_ROOT, '.cache', 'stack', file)
    if (!existsSync(path)) return null
    const pid = Number(readFileSync(path, 'utf8').trim())
    return Number.isInteger(pid) && existsSync(`/proc/${pid}/stat`) ? pid : null
  }
  return { broker: read('kafka/kafka.pid'), redis: read('redis/redis.pid') }
}

/** Reads /proc/<pid>/stat (utime + stime, all threads) for each group's processes and /proc/stat for the machine. */
export function cpuSnapshot(groups: Record<string, number[]>): CpuSnapshot {
  const processes = new Map<number, number>()
  const totals = new Map<string, number>()
  for (const [name, pids] of Object.entries(groups)) {
    let sum = 0
    for (const pid of pids) {
      const ticks = processTicks(pid)
      processes.set(pid, ticks)
      sum += ticks
    }
    totals.set(name, sum)
  }
  return { at: Date.now(), groups: totals, processes, machine: machineTicks() }
}

export function cpuBetween(from: CpuSnapshot, to: CpuSnapshot, groups: Record<string, number[]>): CpuUsage {
  const seconds = Math.max(0.001, (to.at - from.at) / 1000)
  const percent = (ticks: number) => (100 * ticks) / TICKS_PER_SECOND / seconds
  const usage: CpuUsage = { groups: {}, busiest: {}, machine: 0, steal: 0, cores: cpus().length }
  for (const [name, pids] of Object.entries(groups)) {
    usage.groups[name] = percent((to.groups.get(name) ?? 0) - (from.groups.get(name) ?? 0))
    usage.busiest[name] = Math.max(0, ...pids.map((pid) => percent((to.processes.get(pid) ?? 0) - (from.processes.get(pid) ?? 0))))
  }
  const total = to.machine.total - from.machine.total
  usage.machine = total > 0 ? (100 * (to.machine.busy - from.machine.busy)) / total : 0
  usage.steal = total > 0 ? (100 * (to.machine.steal - from.machine.steal)) / total : 0
  return usage
}

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces) start after its closing parenthesis; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return 0 // the process ended
  }
}

function machineTicks(): { busy: number; steal: number; total: number } {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number) as number[]
  const busy = user! + nice! + system! + irq! + softirq! + steal!
  return { busy, steal: steal!, total: busy + idle! + iowait! }
}
