// POST /api/login: the toy login form. A good user name and password set the
// session cookie; anything else goes back to the form.
import type { NextRequest } from 'next/server';
import { seeOther } from '@/lib/redirect';
import { SESSION_COOKIE, sessionCookieOptions, sessionCookieValue } from '@/lib/session';
import { checkLogin } from '@/lib/users';

export async function POST(request: NextRequest) {
  const form = await request.formData();
  const user = checkLogin(String(form.get('username') ?? ''), String(form.get('password') ?? ''));
  if (!user) return seeOther('/login?error=1');
  const response = seeOther('/admin/live-chat');
  response.cookies.set(SESSION_COOKIE, await sessionCookieValue(user), sessionCookieOptions);
  return response;
}
