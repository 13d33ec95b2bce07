// A grpc-js client of one of our services, built from the same .proto files the server serves, for tests.
import * as grpc from '@grpc/grpc-js';
import { serviceDefinition } from '../../src/grpc-proto.js';

export type GrpcClient = grpc.Client &
  Record<string, (request: object, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, res: any) => void) => void>;

/** A client of `service` (PREDICTION_SERVICE, MODEL_SERVICE) at `address` ("host:port" or "unix:path"). */
export function grpcClient(service: string, address: string): GrpcClient {
  const Client = grpc.makeGenericClientConstructor(serviceDefinition(service), service);
  return new Client(address, grpc.credentials.createInsecure()) as unknown as GrpcClient;
}

/** One unary call, its answer or the ServiceError it failed with. */
export function unary(client: GrpcClient, method: string, request: object, deadlineMs = 30_000): Promise<any> {
  return new Promise((resolve, reject) => client[method](request, { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res))));
}
