import type { ConversationJoinedPayload } from './protocol.js';

/** Joined conversations and the last seq seen in each, for catch-up after a reconnect. */
export declare class ConversationTracker {
  join(lineUserId: string): void;
  leave(lineUserId: string): void;
  has(lineUserId: string): boolean;
  joined(): string[];
  /** Highest seq seen without a gap; undefined before the first conversation_joined. */
  lastSeq(lineUserId: string): number | undefined;
  noteMessage(message: { line_user_id?: string; seq?: number } | null | undefined): void;
  beginCatchUp(lineUserId: string): number | undefined;
  /** Forget every seq (another run of the server): the next joins ask for the latest history. */
  forgetSeqs(): void;
  /** Returns the after_seq of the next page, or undefined when done. */
  applyJoined(payload: Pick<ConversationJoinedPayload, 'line_user_id'> & Partial<ConversationJoinedPayload>, catchUp: boolean): number | undefined;
}
