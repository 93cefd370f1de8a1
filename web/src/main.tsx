import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { leakMode } from './probe';
import { WebSocketHandler, useChat } from './websocket-handler';

function defaultUrl(): string {
  const given = new URLSearchParams(window.location.search).get('ws');
  if (given) return given;
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${window.location.host}/client-ws`;
}

function ChatPanel({ onSwitch, wsUrl }: { onSwitch: () => void; wsUrl: string }) {
  const chat = useChat();
  const [text, setText] = useState('Hello! How are you today?');
  return (
    <main style={{ fontFamily: 'sans-serif', maxWidth: 640, margin: '2em auto' }}>
      <h1>Chat</h1>
      <p>
        Connection: <b data-testid="state">{chat.state}</b> to <code data-testid="url">{wsUrl}</code>
        {leakMode && <span style={{ color: 'crimson' }}> (leak: {leakMode})</span>}
      </p>
      <ul data-testid="lines" style={{ minHeight: '8em', background: '#f4f4f4', padding: '1em' }}>
        {chat.lines.map((line, i) => (
          <li key={i}>{line}</li>
        ))}
      </ul>
      <input
        data-testid="message"
        value={text}
        onChange={(event) => setText(event.target.value)}
        style={{ width: '70%' }}
      />
      <button data-testid="send" disabled={chat.busy || chat.state !== 'OPEN'} onClick={() => chat.send(text)}>
        Send
      </button>
      <button data-testid="switch" onClick={onSwitch}>
        Switch server URL
      </button>
    </main>
  );
}

function App() {
  const base = defaultUrl();
  const [flip, setFlip] = useState(0);
  // Two spellings of the same server: switching is the in-page reconnect the seed describes.
  const wsUrl = `${base}${base.includes('?') ? '&' : '?'}v=${flip}`;
  return (
    <WebSocketHandler wsUrl={wsUrl}>
      <ChatPanel wsUrl={wsUrl} onSwitch={() => setFlip((n) => n + 1)} />
    </WebSocketHandler>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
