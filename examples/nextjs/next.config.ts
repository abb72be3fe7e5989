import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  // Effects mount, unmount and mount again in development: the page must still
  // open one socket (tests/e2e/test_nextjs.py counts them on the server).
  reactStrictMode: true,
};

export default nextConfig;
