import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppsModule } from '../apps/apps.module';
import { NodesRepository } from './nodes.repository';
import { Node, NodeJoinToken } from './node.entity';

/** The node model: nodes, join tokens and what their gears take. */
@Module({
  imports: [TypeOrmModule.forFeature([Node, NodeJoinToken]), AppsModule],
  providers: [NodesRepository],
  exports: [NodesRepository],
})
export class FleetModule {}
