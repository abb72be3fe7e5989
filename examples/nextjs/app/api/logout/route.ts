import { seeOther } from '@/lib/redirect';
import { SESSION_COOKIE } from '@/lib/session';

export async function POST() {
  const response = seeOther('/login');
  response.cookies.delete(SESSION_COOKIE);
  return response;
}
