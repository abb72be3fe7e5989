/** A new client_msg_id: crypto.randomUUID() where available. */
export declare function generateClientMsgId(): string;
