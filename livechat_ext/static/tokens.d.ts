export declare class TokenProvider {
  constructor(options: { token?: string | null; getToken?: (() => string | Promise<string>) | null });
  readonly canRefresh: boolean;
  set(token: string): void;
  prime(token: string): void;
  get(): Promise<string>;
  fresh(current: string | null): Promise<string | null>;
}
