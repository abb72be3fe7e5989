import { NextResponse } from 'next/server';

/**
 * A 303 to a path of this app. The Location stays relative: behind a proxy
 * (or on 127.0.0.1 against "localhost") the request's own URL may name
 * another host than the browser used, and the session cookie belongs to that one.
 */
export function seeOther(path: string): NextResponse {
  return new NextResponse(null, { status: 303, headers: { Location: path } });
}
