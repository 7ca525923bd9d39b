// Who is signed in, as spa-authd says (GET /api/v1/auth/me). The SPA keeps
// the user's profile in memory only, never a token.
import { ApiError, get } from './api';

export interface User {
  id: string;
  email: string;
  username: string;
  role: string;
  email_verified: boolean;
  has_password: boolean;
  mfa_enabled: boolean;
  providers: string[];
  created_at: number;
  disabled: boolean;
}

export interface Me { session_id: string; user: User }

let current: Me | null = null;
let known = false;

export function me(): Me | null { return current; }

export async function loadMe(): Promise<Me | null> {
  try {
    current = await get<Me>('/api/v1/auth/me');
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    current = null;
  }
  known = true;
  return current;
}

export async function knownMe(): Promise<Me | null> {
  return known ? current : loadMe();
}

export function forget(): void {
  current = null;
  known = true;
}
