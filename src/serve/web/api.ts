/** Fetching the dashboard's JSON API; an error answer becomes an `ApiFailure` with the server's message. */
import type { ApiError } from "../types.ts";

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiFailure";
  }
}

export async function getJson<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, { headers: { accept: "application/json" }, ...init });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiFailure(res.status, `${path}: the server answered ${res.status} with something that is not JSON`);
  }
  if (!res.ok) throw new ApiFailure(res.status, (body as ApiError).error ?? `${path}: HTTP ${res.status}`);
  return body as T;
}
