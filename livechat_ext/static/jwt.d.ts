/** The claims of a JWT, unverified; null when it is not a JWT. */
export declare function decodeJwtPayload(token: unknown): Record<string, unknown> | null;
/** Ms until an in-band re-auth: leadMs before exp (at most half the remaining life); null without exp. */
export declare function reauthDelay(token: unknown, nowMs: number, leadMs?: number): number | null;
