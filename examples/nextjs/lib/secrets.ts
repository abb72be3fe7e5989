/** A secret from the environment, as the bytes jose signs with; a clear error when it is missing. */
export function secretFromEnv(name: 'LIVECHAT_JWT_SECRET' | 'SESSION_SECRET'): Uint8Array {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (see examples/nextjs/.env)`);
  return new TextEncoder().encode(value);
}
