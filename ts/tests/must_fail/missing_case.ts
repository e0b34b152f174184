// must-fail: Argument of type 'PongMessage' is not assignable to parameter of type 'never'
import { ServerMessage } from "../../generated/index";

function assertNever(x: never): never {
  throw new Error(String(x));
}

// Forgets "pong": the exhaustiveness check must catch it.
export function kind(msg: ServerMessage): string {
  switch (msg.type) {
  case "welcome":
  case "subscribed":
  case "unsubscribed":
  case "subscriptions":
  case "event":
  case "summary":
  case "alert":
  case "health":
  case "reset":
  case "lagged":
  case "error":
  case "published":
  case "authenticated":
  case "auth_expiring":
    return msg.type;
  default:
    return assertNever(msg);
  }
}
