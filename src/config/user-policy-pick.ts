/**
 * A user's policy fields (login method, certificates, permissions, rules, quota, bandwidth) as they
 * travel from the config to the authenticator, without their schema (user-policy.ts): what a cluster
 * worker needs at run time without loading zod.
 */
import type { Permission } from '../auth/permissions.js';
import type { PermissionRule } from '../auth/rules.js';
import type { QuotaLimits } from '../storage/quota.js';
import type { LoginMethod, UserBandwidth } from '../auth/authenticator.js';

/** A user's policy fields after validation, as they travel from the config to the authenticator. */
export interface UserPolicy {
  login?: LoginMethod;
  certificates?: string[];
  permissions?: Permission[];
  rules?: PermissionRule[];
  quota?: QuotaLimits;
  bandwidth?: UserBandwidth;
}

/** Copies the policy fields that are set (so `undefined` never overrides a default). */
export function pickUserPolicy(u: UserPolicy): UserPolicy {
  return {
    ...(u.login !== undefined ? { login: u.login } : {}),
    ...(u.certificates !== undefined ? { certificates: u.certificates } : {}),
    ...(u.permissions !== undefined ? { permissions: u.permissions } : {}),
    ...(u.rules !== undefined ? { rules: u.rules } : {}),
    ...(u.quota !== undefined ? { quota: u.quota } : {}),
    ...(u.bandwidth !== undefined ? { bandwidth: u.bandwidth } : {}),
  };
}
