// The example's session: a signed cookie naming the signed-in admin. This is
// the admin's own session, signed with its own secret; the plugin never sees it.
import { jwtVerify, SignJWT } from 'jose';
import { cookies } from 'next/headers';
import { secretFromEnv } from './secrets';
import type { AdminUser } from './users';

export const SESSION_COOKIE = 'admin_session';
const SESSION_TTL_SECONDS = 8 * 3600;

export async function sessionCookieValue(user: AdminUser): Promise<string> {
  return new SignJWT({ name: user.name, username: user.username })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user.adminId)
    .setIssuedAt()
    .setExpirationTime(`${SESSION_TTL_SECONDS}s`)
    .sign(secretFromEnv('SESSION_SECRET'));
}

export const sessionCookieOptions = {
  httpOnly: true,
  sameSite: 'lax',
  path: '/',
  maxAge: SESSION_TTL_SECONDS,
} as const;

/** The signed-in admin, or null (no cookie, a bad one, an expired one). */
export async function currentUser(): Promise<AdminUser | null> {
  const cookie = (await cookies()).get(SESSION_COOKIE)?.value;
  if (!cookie) return null;
  try {
    const { payload } = await jwtVerify(cookie, secretFromEnv('SESSION_SECRET'), { algorithms: ['HS256'] });
    if (typeof payload.sub !== 'string' || typeof payload.name !== 'string') return null;
    return { adminId: payload.sub, name: payload.name, username: String(payload.username ?? payload.sub) };
  } catch {
    return null;
  }
}
