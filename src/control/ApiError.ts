// An API-level failure with its HTTP status (400 bad request, 403 forbidden, 404, 409 conflict,
// 422 unmeetable): the message is the client's to read, and the daemon logs it as one line.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}
