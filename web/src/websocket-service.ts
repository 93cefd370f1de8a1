// The seed's websocket-service.tsx in its fixed form. With ?leak=connections, connect()
// and disconnect() behave as before the fix: duplicate sockets, handlers left attached,
// extra reconnects.
import { BehaviorSubject, Subject, Subscription } from 'rxjs';
import { leakMode, probe } from './probe';

export type WsState = 'CONNECTING' | 'OPEN' | 'CLOSING' | 'CLOSED';
export interface Message {
  type: string;
  [key: string]: unknown;
}

const LEAK_CONNECTIONS = leakMode === 'connections';
const HEARTBEAT_MS = 5000;
const RECONNECT_MS = 300;

class WebSocketService {
  private ws: WebSocket | null = null;
  private lastUrl = '';
  private messageSubject = new Subject<Message>();
  private stateSubject = new BehaviorSubject<WsState>('CLOSED');
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private shouldReconnect = true;
  private outbox: string[] = [];
  currentState: WsState = 'CLOSED';

  connect(url: string): void {
    if (LEAK_CONNECTIONS) {
      this.doConnect(url); // pre-fix: no check for an existing connection
      return;
    }
    if (
      this.lastUrl === url &&
      (this.ws?.readyState === WebSocket.CONNECTING || this.ws?.readyState === WebSocket.OPEN)
    ) {
      console.warn('WS already connecting/connected - skipping duplicate');
      return;
    }
    if (this.ws) {
      console.info('WS closing existing connection before reconnect');
      this.disconnect();
      setTimeout(() => this.doConnect(url), 100);
      return;
    }
    this.doConnect(url);
  }

  private doConnect(url: string): void {
    this.lastUrl = url;
    this.shouldReconnect = true;
    const ws = new WebSocket(url);
    this.ws = ws;
    probe.sockets_opened += 1;
    // Accounting apart from the handlers, so it still counts once they are detached.
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      probe.sockets_open += 1;
    });
    ws.addEventListener('close', () => {
      if (opened) probe.sockets_open -= 1;
    });
    this.setState('CONNECTING');
    ws.onopen = () => {
      this.setState('OPEN');
      this.startHeartbeat();
      const pending = this.outbox;
      this.outbox = [];
      pending.forEach((data) => ws.send(data));
    };
    ws.onmessage = (event: MessageEvent) => {
      probe.messages_received += 1;
      let message: Message;
      try {
        message = JSON.parse(event.data as string);
      } catch {
        return;
      }
      this.messageSubject.next(message);
    };
    ws.onclose = () => {
      this.setState('CLOSED');
      this.stopHeartbeat();
      if (this.shouldReconnect) {
        this.reconnectTimer = setTimeout(() => this.doConnect(this.lastUrl), RECONNECT_MS);
      }
    };
    ws.onerror = () => undefined;
  }

  disconnect(): void {
    if (LEAK_CONNECTIONS) {
      // pre-fix: handlers stay attached and shouldReconnect stays true, so the close
      // below schedules a reconnect nobody asked for.
      this.ws?.close();
      this.ws = null;
      return;
    }
    console.info('WS manual disconnect - cleaning up all resources');
    this.shouldReconnect = false;
    this.stopHeartbeat();
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    if (this.ws) {
      const ws = this.ws;
      ws.onopen = null;
      ws.onmessage = null;
      ws.onclose = null;
      ws.onerror = null;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        ws.close();
      }
      this.ws = null;
    }
    this.outbox = [];
    this.setState('CLOSED');
  }

  send(message: Message): void {
    const data = JSON.stringify(message);
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(data);
    } else {
      this.outbox.push(data);
    }
  }

  onMessage(listener: (message: Message) => void): Subscription {
    return this.messageSubject.subscribe(listener);
  }

  onStateChange(listener: (state: WsState) => void): Subscription {
    return this.stateSubject.subscribe(listener);
  }

  getSubscriptionCount(): { message: number; state: number } {
    return {
      message: this.messageSubject.observers.length,
      state: this.stateSubject.observers.length,
    };
  }

  private setState(state: WsState): void {
    this.currentState = state;
    this.stateSubject.next(state);
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => this.send({ type: 'heartbeat' }), HEARTBEAT_MS);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) {
      clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = null;
    }
  }
}

export const wsService = new WebSocketService();

Object.defineProperty(probe, 'subscriptions', {
  get: () => wsService.getSubscriptionCount(),
  enumerable: true,
});
