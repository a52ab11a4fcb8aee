import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import IORedis from 'ioredis';
import { BROKER_CONFIG, type BrokerConfig } from '../config';

/** How long a request's key lives without being refreshed: a node stops streaming once it is gone. */
const ALIVE_TTL_S = 10;
/** How long a request's input outlives its last message when the request ends without closing (a broker killed). */
const INPUT_TTL_S = 3600;

/**
 * One request's channel from the nodes to this broker: `channel` and `alive` go into the node's job; the node
 * publishes on the channel for as long as `alive` exists, which the relay refreshes until `close()`.
 */
export interface RelayChannel<M> {
  channel: string;
  alive: string;
  /** Called with each message that arrives on the channel, parsed; what does not parse is dropped. */
  onMessage(handler: (m: M) => void): void;
  /** Where the node takes the request's input from (a command's keys, its terminal's size). */
  input: string;
  /**
   * Sends a message to the node: added to the input's stream, which keeps every message in order until the node reads
   * it, or (`stream` false, an older agent) published on the channel of that name.
   */
  send(m: unknown, stream?: boolean): Promise<void>;
  /** Lets go of the input's messages before this id of the stream: the node has read them. */
  trim(before: string): Promise<void>;
  /** Stops listening and lets the key go: the node stops. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Carries what nodes stream for one request (a gear's log lines, a one-off command's output) from Redis to the
 * request that asked. One subscriber per broker listens on every such channel, which all live under the logs'
 * channel prefix: the only one a node's Redis user may publish on and read the keys of.
 */
@Injectable()
export class NodeRelay implements OnModuleDestroy {
  private readonly redis: IORedis;
  private readonly subscriber: IORedis;
  private readonly listeners = new Map<string, (raw: unknown) => void>();
  private subscribed?: Promise<unknown>;

  constructor(@Inject(BROKER_CONFIG) private readonly config: BrokerConfig) {
    this.redis = new IORedis(config.redisUrl, { maxRetriesPerRequest: 2 });
    this.redis.on('error', () => undefined);
    this.subscriber = new IORedis(config.redisUrl, { lazyConnect: true });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('pmessage', (_pattern: string, channel: string, raw: string) => {
      const listener = this.listeners.get(channel);
      if (!listener) return;
      // Anything on the channel that is not JSON is dropped, not thrown out of an event handler.
      let message: unknown;
      try {
        message = JSON.parse(raw);
      } catch {
        return;
      }
      listener(message);
    });
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
    this.subscriber.disconnect();
  }

  private listen(): Promise<unknown> {
    // Subscribed once, on first use; ioredis subscribes again after a reconnect.
    this.subscribed ??= this.subscriber.psubscribe(`${this.config.instance}:logs:*`).catch((err: Error) => {
      this.subscribed = undefined;
      throw err;
    });
    return this.subscribed;
  }

  /**
   * Opens a channel named `<instance>:logs:<kind><uuid>`, listened to and kept alive before this returns, so that a
   * node's first message cannot come before anyone listens.
   */
  async open<M>(kind = ''): Promise<RelayChannel<M>> {
    const channel = `${this.config.instance}:logs:${kind}${randomUUID()}`;
    const alive = `${channel}:alive`;
    await this.listen();
    let handler: (m: M) => void = () => undefined;
    this.listeners.set(channel, (m) => handler(m as M));
    await this.redis.set(alive, '1', 'EX', ALIVE_TTL_S);
    const keepAlive = setInterval(() => void this.redis.set(alive, '1', 'EX', ALIVE_TTL_S).catch(() => undefined), (ALIVE_TTL_S * 1000) / 3);
    let closed = false;
    const input = `${channel}:in`;
    return {
      channel,
      alive,
      input,
      send: async (m, stream = true) => {
        if (!stream) return void (await this.redis.publish(input, JSON.stringify(m)));
        const replies = await this.redis.multi().xadd(input, '*', 'm', JSON.stringify(m)).expire(input, INPUT_TTL_S).exec();
        const failed = replies?.find(([err]) => err);
        if (failed?.[0]) throw failed[0];
      },
      trim: async (before) => {
        await this.redis.xtrim(input, 'MINID', before);
      },
      onMessage: (h) => {
        handler = h;
      },
      close: async () => {
        if (closed) return;
        closed = true;
        clearInterval(keepAlive);
        this.listeners.delete(channel);
        await this.redis.del(alive, input).catch(() => undefined);
      },
    };
  }
}
