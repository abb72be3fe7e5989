// The example's own (toy) user table. A real admin has its own login; what
// matters is that a signed-in admin has an id the plugin can use as `sub`.
export interface AdminUser {
  username: string;
  adminId: string;
  name: string;
}

const USERS: ReadonlyArray<AdminUser & { password: string }> = [
  { username: 'alice', password: 'alice-demo', adminId: 'alice', name: 'Alice' },
  { username: 'bob', password: 'bob-demo', adminId: 'bob', name: 'Bob' },
];

export function checkLogin(username: string, password: string): AdminUser | null {
  const user = USERS.find((u) => u.username === username && u.password === password);
  return user ? { username: user.username, adminId: user.adminId, name: user.name } : null;
}
