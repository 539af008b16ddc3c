// The part of Express's interface the serve tests use, so that they can be
// type-checked: Express ships no types, and @types/express is not among our
// dev dependencies. Handlers get Node's own request and response with the
// two helpers the tests call; anything else is a type error, on purpose.
declare module 'express' {
  import type { IncomingMessage, Server, ServerResponse } from 'node:http';

  export interface Response extends ServerResponse {
    status(code: number): Response;
    type(type: string): Response;
    send(body: string | Buffer): Response;
  }
  interface Request extends IncomingMessage {
    params: Record<string, string>;
  }
  type Next = (error?: unknown) => void;
  type Handler = (req: Request, res: Response, next: Next) => unknown;
  type ErrorHandler = (error: any, req: Request, res: Response, next: Next) => unknown;

  interface Application {
    get(path: string, handler: Handler): Application;
    post(path: string, handler: Handler): Application;
    use(handler: Handler): Application;
    use(handler: ErrorHandler): Application;
    use(path: string, handler: Handler): Application;
    listen(port: number, host: string): Server;
  }

  function express(): Application;
  export default express;
}
