import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { Node, NodeJoinToken } from './node.entity';
import { AppsRepository } from '../apps/apps.repository';
import type { NodeAddresses } from '../apps/node-addresses';

export interface NodeUsage {
  node: Node;
  allocatedMb: number;
  gears: number;
}

@Injectable()
export class NodesRepository implements NodeAddresses {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  async addJoinToken(tokenHash: string, createdBy: string | null, expiresAt: Date): Promise<void> {
    await this.m.insert(NodeJoinToken, { tokenHash, createdBy, expiresAt });
  }

  async joinTokenValid(tokenHash: string): Promise<boolean> {
    return (await this.m.createQueryBuilder(NodeJoinToken, 't').where('t.token_hash = :tokenHash and t.expires_at > now()', { tokenHash }).getCount()) > 0;
  }

  findById(id: string): Promise<Node | null> {
    return this.m.findOne(Node, { where: { id } });
  }

  /** Node id → the address its published gear ports are reached at. */
  async addresses(): Promise<Map<string, string>> {
    const nodes = await this.m.find(Node, { select: { id: true, address: true } });
    return new Map(nodes.map((n) => [n.id, n.address]));
  }

  findByName(name: string): Promise<Node | null> {
    return this.m.findOne(Node, { where: { name } });
  }

  /** Creates the node, or updates the capacity of the one registered under that name before. */
  async upsert(name: string, memoryMb: number, maxGears: number): Promise<Node> {
    await this.m.upsert(Node, { name, memoryMb, maxGears }, ['name']);
    return (await this.findByName(name))!;
  }

  async recordHeartbeat(id: string, memoryMb: number, maxGears: number, address: string, rssMb: number): Promise<void> {
    await this.m.update(Node, { id }, { lastHeartbeat: new Date(), memoryMb, maxGears, address, agentRssMb: rssMb });
  }

  async setState(id: string, state: Node['state']): Promise<void> {
    await this.m.update(Node, { id }, { state });
  }

  async delete(id: string): Promise<void> {
    await this.m.delete(Node, { id });
  }

  /** Every node with the memory and gear count its gears take. */
  async usage(): Promise<NodeUsage[]> {
    const nodes = await this.m.find(Node, { order: { createdAt: 'ASC' } });
    // Gears are the app model's: its repository, on the same EntityManager (and so the same transaction), sums them.
    const byNode = await new AppsRepository(this.m).gearsByNode();
    return nodes.map((node) => ({ node, allocatedMb: byNode.get(node.id)?.memoryMb ?? 0, gears: byNode.get(node.id)?.gears ?? 0 }));
  }
}
