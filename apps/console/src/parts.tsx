import { ApiError } from './api';

export function StatusBadge({ status }: { readonly status: string }) {
  return <span className={`badge ${status}`}>{status}</span>;
}

export function ErrorNote({ error }: { readonly error?: Error }) {
  if (!error) return null;
  const hint =
    error instanceof ApiError && error.status === 401 ? ' Enter an API key above (one of MESH_API_KEYS).' : '';
  return (
    <p className="error" data-testid="error">
      {error.message}
      {hint}
    </p>
  );
}
