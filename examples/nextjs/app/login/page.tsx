// The toy login: a plain form posted to /api/login (works before any script runs).
export default async function LoginPage({ searchParams }: { searchParams: Promise<{ error?: string }> }) {
  const { error } = await searchParams;
  return (
    <main className="login">
      <h1>Sign in to the admin</h1>
      <form method="post" action="/api/login">
        <label>
          User name <input name="username" autoComplete="username" required />
        </label>
        <label>
          Password <input name="password" type="password" autoComplete="current-password" required />
        </label>
        <button type="submit">Sign in</button>
      </form>
      {error ? <p role="alert">Wrong user name or password.</p> : null}
      <p className="hint">Toy users: alice / alice-demo, bob / bob-demo.</p>
    </main>
  );
}
