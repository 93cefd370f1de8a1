// The seed's websocket-handler.tsx in its fixed form: connection and subscriptions in
// separate effects, and wsUrl out of the subscription effect's dependencies. With
// ?leak=subscriptions, one effect does both, depends on wsUrl and never unsubscribes.
import { ReactNode, createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { leakMode, probe } from './probe';
import { Message, WsState, wsService } from './websocket-service';

const LEAK_SUBSCRIPTIONS = leakMode === 'subscriptions';

interface Chat {
  state: WsState;
  lines: string[];
  busy: boolean;
  send: (text: string) => void;
}

const ChatContext = createContext<Chat | null>(null);

export function useChat(): Chat {
  const chat = useContext(ChatContext);
  if (!chat) throw new Error('useChat outside WebSocketHandler');
  return chat;
}

export function WebSocketHandler({ wsUrl, children }: { wsUrl: string; children: ReactNode }) {
  const [state, setWsState] = useState<WsState>('CLOSED');
  const [lines, setLines] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const sentAt = useRef<number | null>(null);

  const handleWebSocketMessage = useCallback((message: Message) => {
    probe.messages_handled += 1;
    switch (message.type) {
      case 'audio': {
        if (sentAt.current !== null && probe.last_first_token_ms === null) {
          probe.last_first_token_ms = performance.now() - sentAt.current;
        }
        const display = message.display_text as { text?: string } | null;
        if (display?.text) setLines((old) => [...old, `AI: ${display.text}`]);
        break;
      }
      case 'backend-synth-complete':
        wsService.send({ type: 'frontend-playback-complete' });
        break;
      case 'control':
        if (message.text === 'conversation-chain-end') {
          probe.replies += 1;
          if (sentAt.current !== null) probe.last_reply_ms = performance.now() - sentAt.current;
          setBusy(false);
        }
        break;
      case 'error':
        setLines((old) => [...old, `error: ${String(message.message)}`]);
        break;
      default:
        break;
    }
  }, []);

  if (LEAK_SUBSCRIPTIONS) {
    // eslint-disable-next-line react-hooks/rules-of-hooks -- fixed per page load
    useEffect(() => {
      wsService.connect(wsUrl);
      wsService.onStateChange(setWsState);
      wsService.onMessage(handleWebSocketMessage);
      return () => wsService.disconnect(); // the subscriptions are forgotten, not ended
    }, [wsUrl, handleWebSocketMessage]);
  } else {
    // eslint-disable-next-line react-hooks/rules-of-hooks
    useEffect(() => {
      wsService.connect(wsUrl);
      return () => wsService.disconnect();
    }, [wsUrl]);
    // eslint-disable-next-line react-hooks/rules-of-hooks
    useEffect(() => {
      const stateSubscription = wsService.onStateChange(setWsState);
      const messageSubscription = wsService.onMessage(handleWebSocketMessage);
      return () => {
        stateSubscription.unsubscribe();
        messageSubscription.unsubscribe();
      };
    }, [handleWebSocketMessage]);
  }

  useEffect(() => {
    if (state === 'OPEN') {
      // What the real page asks for on every connect.
      wsService.send({ type: 'fetch-configs' });
      wsService.send({ type: 'fetch-history-list' });
    }
  }, [state]);

  const send = useCallback((text: string) => {
    sentAt.current = performance.now();
    probe.last_first_token_ms = null;
    setBusy(true);
    setLines((old) => [...old, `You: ${text}`]);
    wsService.send({ type: 'text-input', text });
  }, []);

  return <ChatContext.Provider value={{ state, lines, busy, send }}>{children}</ChatContext.Provider>;
}
