/**
 * Passive ports in cluster mode: the configured range is split into one disjoint slice per worker, so
 * a data connection to a port can only reach the worker that listens on it (passive listeners are bound
 * by the worker itself, `exclusive`), which is the worker owning the session that asked for the port.
 * The advertised range (a port mapping) is split with the same offsets, so the mapping stays one to one.
 * Without a range every worker binds any free port (the kernel never gives one port to two processes).
 */
import type { PortRange } from '../data/passive.js';
import type { ResolvedConfig } from '../config/load.js';
import { ConfigError } from '../config/errors.js';

/** Worker `index`'s slice (0-based) of `range` split into `count` slices as even as can be. */
export function portSlice(range: PortRange, index: number, count: number): PortRange {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`portSlice: index ${index} of ${count} slices`);
  }
  const size = range.max - range.min + 1;
  if (size < count) throw new RangeError(`has ${size} port${size === 1 ? '' : 's'}, fewer than the ${count} workers (each needs its own ports)`);
  const base = Math.floor(size / count);
  const extra = size % count;
  // The first `extra` slices get one port more.
  const start = range.min + index * base + Math.min(index, extra);
  const length = base + (index < extra ? 1 : 0);
  return { min: start, max: start + length - 1 };
}

/** The passive settings of worker `index`: its slice of the listened range and of the advertised one. */
export function workerPassivePorts(
  ports: { pasvPorts: PortRange | undefined; pasvAdvertisedPorts: PortRange | undefined },
  index: number,
  count: number,
): { pasvPorts: PortRange | undefined; pasvAdvertisedPorts: PortRange | undefined } {
  if (!ports.pasvPorts) return { pasvPorts: undefined, pasvAdvertisedPorts: ports.pasvAdvertisedPorts };
  const slice = portSlice(ports.pasvPorts, index, count);
  const advertised = ports.pasvAdvertisedPorts;
  const offset = advertised ? advertised.min - ports.pasvPorts.min : 0;
  return {
    pasvPorts: slice,
    pasvAdvertisedPorts: advertised ? { min: slice.min + offset, max: slice.max + offset } : undefined,
  };
}

/** This worker's share of a config; a range too small for the workers is a config error. */
export function workerShare(config: ResolvedConfig, index: number, count: number): ResolvedConfig {
  let passive: ReturnType<typeof workerPassivePorts>;
  try {
    passive = workerPassivePorts(config, index, count);
  } catch (err) {
    throw ConfigError.of('pasvPorts', `${(err as Error).message}; widen the range or lower workers`);
  }
  return { ...config, ...passive, metricsListen: undefined };
}
