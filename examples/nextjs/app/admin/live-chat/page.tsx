// The operator page. This part runs on the server: it checks the admin's own
// session and reads where the plugin is at request time (LIVECHAT_URL); the
// live part is the client component LiveChatAdmin, built on useWebSocket.
import { redirect } from 'next/navigation';
import { currentUser } from '@/lib/session';
import LiveChatAdmin from './LiveChatAdmin';

export default async function LiveChatPage() {
  const user = await currentUser();
  if (!user) redirect('/login');
  const pluginUrl = process.env.LIVECHAT_URL;
  if (!pluginUrl) throw new Error('LIVECHAT_URL is not set (see examples/nextjs/.env)');
  return <LiveChatAdmin pluginUrl={pluginUrl} operator={{ adminId: user.adminId, name: user.name }} />;
}
