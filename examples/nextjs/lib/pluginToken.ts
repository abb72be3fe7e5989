// The plugin's operator token, minted from the admin's session: a short-lived
// HS256 JWT with the plugin's LIVECHAT_JWT_SECRET, `sub` the admin id and
// `name` the display name (what livechat_ext reads; see its README).
import { SignJWT } from 'jose';
import { secretFromEnv } from './secrets';
import type { AdminUser } from './users';

/** Long enough for a page load; the client asks again (in-band re-auth) before it runs out. */
export const PLUGIN_TOKEN_TTL_SECONDS = 15 * 60;

export async function mintPluginToken(user: AdminUser): Promise<string> {
  return new SignJWT({ name: user.name })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user.adminId)
    .setIssuedAt()
    .setExpirationTime(`${PLUGIN_TOKEN_TTL_SECONDS}s`)
    .sign(secretFromEnv('LIVECHAT_JWT_SECRET'));
}
