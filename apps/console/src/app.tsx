import { useEffect, useState } from 'react';
import { AgentsView } from './agents-view';
import { apiKey, setApiKey } from './api';
import { useLiveFeed } from './live-feed';
import { WorkflowView } from './workflow-view';
import { WorkflowsView } from './workflows-view';

/** `#/`, `#/workflows/<id>`, `#/agents`: the page never reloads, and a link can be shared. */
type Route =
  { readonly view: 'workflows' } | { readonly view: 'workflow'; readonly id: string } | { readonly view: 'agents' };

function route(hash: string): Route {
  const workflow = /^#\/workflows\/([^/]+)$/.exec(hash);
  if (workflow) return { view: 'workflow', id: decodeURIComponent(workflow[1]) };
  if (hash === '#/agents') return { view: 'agents' };
  return { view: 'workflows' };
}

function useRoute(): Route {
  const [current, setCurrent] = useState(() => route(location.hash));
  useEffect(() => {
    const onChange = () => setCurrent(route(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return current;
}

const STATE_LABEL = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  unauthorized: 'needs an API key',
} as const;

export function App() {
  const current = useRoute();
  const [key, setKey] = useState(apiKey);
  const feed = useLiveFeed(key);
  return (
    <div className="app">
      <header>
        <h1>Agent Mesh</h1>
        <nav>
          <a href="#/" className={current.view !== 'agents' ? 'active' : ''}>
            Workflows
          </a>
          <a href="#/agents" className={current.view === 'agents' ? 'active' : ''}>
            Agents
          </a>
        </nav>
        <form
          className="key"
          onSubmit={(event) => {
            event.preventDefault();
            const value = new FormData(event.currentTarget).get('key');
            setApiKey(typeof value === 'string' ? value.trim() : '');
            setKey(apiKey());
          }}
        >
          <input
            name="key"
            type="password"
            placeholder="API key (MESH_API_KEYS)"
            defaultValue={key}
            data-testid="api-key"
          />
          <button type="submit">Use key</button>
        </form>
        <span className={`stream ${feed.state}`} data-testid="stream-state">
          {STATE_LABEL[feed.state]}
        </span>
      </header>
      <main>
        {current.view === 'workflows' && <WorkflowsView feed={feed} apiKey={key} />}
        {current.view === 'workflow' && <WorkflowView id={current.id} feed={feed} apiKey={key} />}
        {current.view === 'agents' && <AgentsView feed={feed} />}
      </main>
    </div>
  );
}
