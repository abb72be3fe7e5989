export type QueueEntryStatus = 'queued' | 'failed';

/** A LINE sticker: its package and sticker ids, strings of digits. */
export interface StickerRef {
  package_id: string;
  sticker_id: string;
}

interface QueueEntryCommon {
  clientMsgId: string;
  lineUserId: string;
  status: QueueEntryStatus;
  /** ISO-8601. */
  createdAt: string;
  /** Why it failed. */
  error?: string;
}

/** A text to the user, or an internal note (sent as `note_send`, 1.1). */
export interface TextQueueEntry extends QueueEntryCommon {
  text: string;
  /** An internal note; absent for a message to the user. */
  kind?: 'note';
  sticker?: undefined;
}

/** A sticker to the user (1.1): sent as `message_send` with `sticker` instead of `text`. */
export interface StickerQueueEntry extends QueueEntryCommon {
  kind: 'sticker';
  sticker: StickerRef;
  text?: undefined;
}

export type QueueEntry = TextQueueEntry | StickerQueueEntry;

export type StorageLike = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** The storage key of a queue: one per server URL (without query) and operator. */
export declare function queueStorageKey(url: string, adminId?: string | null): string;

export declare class MemoryStorage implements StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export declare class MessageQueue {
  /** storage defaults to sessionStorage, else memory. */
  constructor(options?: { storage?: StorageLike; key?: string });
  readonly key: string;
  readonly size: number;
  /** Entries waiting for the server's confirmation. */
  readonly queuedCount: number;
  entries(): QueueEntry[];
  sendable(): QueueEntry[];
  get(clientMsgId: string): QueueEntry | undefined;
  /** A duplicate clientMsgId returns the existing entry unchanged. */
  enqueue(
    message:
      | { clientMsgId: string; lineUserId: string; text: string; createdAt?: string; kind?: 'message' | 'note' }
      | { clientMsgId: string; lineUserId: string; sticker: StickerRef; createdAt?: string; kind: 'sticker' },
  ): QueueEntry;
  confirm(clientMsgId: string): boolean;
  fail(clientMsgId: string, reason?: string): boolean;
  retry(clientMsgId: string): boolean;
  remove(clientMsgId: string): boolean;
  clear(): void;
  /** With carry, the current entries move to the new key (only from an unknown operator's key). */
  useKey(key: string, options?: { carry?: boolean }): void;
  onChange(listener: (entries: QueueEntry[]) => void): () => void;
}
