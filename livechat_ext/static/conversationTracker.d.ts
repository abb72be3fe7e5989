import type { ConversationJoinedPayload } from './protocol.js';

/** Where a catch-up join starts: after a rev (1.1: new and changed messages), or after a seq. */
export type Cursor = { after_rev: number } | { after_seq: number };

/** Joined conversations and how far each was seen (rev and seq), for catch-up after a reconnect. */
export declare class ConversationTracker {
  join(lineUserId: string): void;
  leave(lineUserId: string): void;
  has(lineUserId: string): boolean;
  joined(): string[];
  /** Highest seq seen without a gap; undefined before the first conversation_joined. */
  lastSeq(lineUserId: string): number | undefined;
  /** Highest rev seen without a gap (1.1); undefined before the first conversation_joined. */
  lastRev(lineUserId: string): number | undefined;
  noteMessage(message: { line_user_id?: string; seq?: number; rev?: number } | null | undefined): void;
  /** The cursor to re-join with: after_rev when a rev was seen, else after_seq; undefined when nothing was. */
  beginCatchUp(lineUserId: string): Cursor | undefined;
  /** Returns the cursor of the next page, or undefined when done. */
  applyJoined(payload: Pick<ConversationJoinedPayload, 'line_user_id'> & Partial<ConversationJoinedPayload>, catchUp: boolean): Cursor | undefined;
  /** Forget every seq and rev (another run of the server): the next joins ask for the latest history. */
  forgetSeqs(): void;
}
