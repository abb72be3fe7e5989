// GET /api/live-chat-token: the signed-in admin's token for the plugin. The
// browser never holds the plugin's secret; it asks here before each connection
// and before the token runs out.
import { NextResponse } from 'next/server';
import { mintPluginToken } from '@/lib/pluginToken';
import { currentUser } from '@/lib/session';

export async function GET() {
  const user = await currentUser();
  if (!user) {
    return NextResponse.json({ error: 'not signed in' }, { status: 401, headers: { 'Cache-Control': 'no-store' } });
  }
  const token = await mintPluginToken(user);
  return NextResponse.json({ token }, { headers: { 'Cache-Control': 'no-store' } });
}
